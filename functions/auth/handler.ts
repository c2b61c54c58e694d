// functions/auth/handler.ts — POST /auth/token: MCPTT ID + password → bearer token.
import { z } from 'zod';
import { verifyPassword } from '#core/digest-credentials.ts';
import { unauthenticated } from '#core/errors.ts';
import { tryNormalizeSipUri } from '#core/ids.ts';
import { type AppDeps, depsFromEnv } from '../shared/deps.ts';
import { httpFunction, once } from '../shared/http-function.ts';

const LogIn = z.strictObject({
  username: z.string().min(1).max(256),
  password: z.string().min(1).max(1024),
});

export const buildHandler = (deps: () => Promise<AppDeps> = once(() => depsFromEnv())) =>
  httpFunction<AppDeps>(
    {
      'POST /auth/token': async ({ body, deps }) => {
        const { username, password } = body(LogIn);
        // One answer for unknown user and wrong password: no user enumeration.
        const refused = unauthenticated('invalid username or password');
        const mcpttId = tryNormalizeSipUri(username, deps.system);
        const stored = mcpttId ? await deps.store.getUser(mcpttId) : undefined;
        if (!stored || !verifyPassword(password, stored.credentials.passwordHash)) throw refused;
        const { token, expiresIn } = await deps.tokens.issue({
          mcpttId: stored.user.mcpttId,
          roles: stored.user.roles,
        });
        return {
          status: 200,
          body: {
            token,
            tokenType: 'Bearer',
            expiresIn,
            mcpttId: stored.user.mcpttId,
            roles: stored.user.roles,
          },
        };
      },
    },
    deps,
  );

export const handler = buildHandler();
