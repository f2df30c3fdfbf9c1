/**
 * The make-believe AWS account of the local stack. The local servers check no signatures, but the
 * SDK refuses to send a request it cannot sign, so clients get these dummy credentials.
 */
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT_ID = '123456789012';
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
