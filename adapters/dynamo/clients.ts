/** DynamoDB clients for the store: AWS defaults, or a local endpoint (dynalite). */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export const createDocumentClient = (endpoint?: string): DynamoDBDocumentClient => {
  const client = new DynamoDBClient(
    endpoint
      ? {
          endpoint,
          region: 'local',
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
          maxAttempts: 3,
        }
      : {},
  );
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
};
