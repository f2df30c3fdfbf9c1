/** The copy-paste tour `npm start` prints; the end-to-end tests run the same paths. */
export function walkthrough(urls: { apiUrl: string; providerUrl: string; dataDir: string }): string {
  const checkout = (method: string, sku: string) =>
    `curl -s -X POST $API/v1/checkout -H 'Authorization: Bearer dev-alice' -H "Idempotency-Key: ${method}-$(date +%s%N)" -H 'Content-Type: application/json' -d '{"items":[{"sku":"${sku}","quantity":1}],"currency":"USD","paymentMethod":"${method}","storeCreditCents":0}' | tee /dev/stderr | sed -E 's/.*"orderId":"([^"]+)".*/\\1/'`;
  return `
Checkout service running locally
  API                ${urls.apiUrl}   (customer: Authorization: Bearer dev-<customerId>; admin: Bearer admin)
  Payment provider   ${urls.providerUrl}   (GET /ledger, POST|DELETE /control/faults)
  Data               ${urls.dataDir}   (npm start -- --fresh resets it)
  Operator CLI       npm run ops -- --help

Walkthrough (bash, in another terminal):

  export API=${urls.apiUrl} PROVIDER=${urls.providerUrl} LOCAL_DATA_DIR=${urls.dataDir}

  # 1. A card that pays: PENDING at once, CONFIRMED a moment later
  ORDER=$(${checkout('pm_card_visa', 'SKU-1')})
  sleep 2; curl -s $API/v1/orders/$ORDER -H 'Authorization: Bearer dev-alice'; echo

  # 2. A declined card: CANCELLED with a reason, the stock back on hand
  ORDER=$(${checkout('pm_card_declined', 'SKU-2')})
  sleep 2; curl -s $API/v1/orders/$ORDER -H 'Authorization: Bearer dev-alice'; echo
  curl -s $API/v1/admin/products/SKU-2 -H 'Authorization: Bearer admin'; echo

  # 3. A void that keeps failing: REQUIRES_ATTENTION, retried by the worker, then in the DLQ
  ORDER=$(${checkout('pm_void_fails', 'SKU-3')})
  sleep 25; npm run ops -- order $ORDER        # status, saga, compensation and timeline
  curl -s $API/v1/admin/products/SKU-3 -H 'Authorization: Bearer admin'; echo   # the stock is back already: only the card waits
  npm run ops -- compensations --status FAILED
  npm run ops -- dlq peek                      # the message in the DLQ, left there
  # fix the cause, then redrive the DLQ (the console's "Start DLQ redrive"), or: npm run ops -- retry $ORDER:compensation
  curl -s -X DELETE $PROVIDER/control/faults; echo
  npm run ops -- redrive
  sleep 3; curl -s $API/v1/orders/$ORDER -H 'Authorization: Bearer dev-alice'; echo
`;
}
