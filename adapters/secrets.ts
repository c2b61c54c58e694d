/** Reads a secret string from AWS Secrets Manager, once per container. */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

const cache = new Map<string, Promise<string>>();

export const readSecret = (secretId: string, client = new SecretsManagerClient({})): Promise<string> => {
  let value = cache.get(secretId);
  if (!value) {
    value = client.send(new GetSecretValueCommand({ SecretId: secretId })).then((out) => {
      if (!out.SecretString) throw new Error(`secret ${secretId} has no string value`);
      return out.SecretString;
    });
    value.catch(() => cache.delete(secretId));
    cache.set(secretId, value);
  }
  return value;
};
