/**
 * The make-believe AWS account of the local stack. The local servers check no signatures, but the
 * SDK refuses to send a request it cannot sign, so clients get these dummy credentials.
 */
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT_ID = '123456789012';
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/** Environment that points a process's SDK clients at this local account (region and credentials). */
export const LOCAL_AWS_ENVIRONMENT = {
  AWS_REGION: LOCAL_REGION,
  AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
} as const;
