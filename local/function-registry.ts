/**
 * The API function modules of lib/routes.ts FUNCTIONS, imported statically so the local runtime
 * runs exactly the handler files the stack deploys.
 */

import * as affiliation from '#functions/affiliation/handler.ts';
import * as agreements from '#functions/agreements/handler.ts';
import * as auth from '#functions/auth/handler.ts';
import * as callRouting from '#functions/call-routing/handler.ts';
import * as groups from '#functions/groups/handler.ts';
import * as health from '#functions/health/handler.ts';
import * as memberResponse from '#functions/member-response/handler.ts';
import * as partnerApi from '#functions/partner-api/handler.ts';
import * as registration from '#functions/registration/handler.ts';
import * as regroups from '#functions/regroups/handler.ts';
import type { AppDeps } from '#functions/shared/deps.ts';
import type { ApiHandler } from '#functions/shared/http-function.ts';
import * as users from '#functions/users/handler.ts';
import type { ApiFunctionName } from '../lib/routes.ts';

type Builder = (deps: () => Promise<AppDeps>) => ApiHandler;

export const FUNCTION_BUILDERS: Record<ApiFunctionName, Builder> = {
  health: health.buildHandler,
  auth: auth.buildHandler,
  users: users.buildHandler,
  groups: groups.buildHandler,
  agreements: agreements.buildHandler,
  regroups: regroups.buildHandler,
  'partner-api': partnerApi.buildHandler,
  registration: registration.buildHandler,
  affiliation: affiliation.buildHandler,
  'call-routing': callRouting.buildHandler,
  'member-response': memberResponse.buildHandler,
};
