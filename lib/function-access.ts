/**
 * What each function of an MCPTT system may do in AWS, action by action: the exact DynamoDB actions
 * (and indexes) its code runs, the Step Functions actions it calls, whether it calls the SIP edge's
 * control API (hence runs in the VPC), whether it sends its SIP MESSAGEs through the message-relay
 * function instead (invokes it) and whether it reads the token-signing key. The stack grants
 * exactly this (lib/mcptt-system-stack.ts), and test/cdk/least-privilege.test.ts checks it twice: against
 * the functions' sources (every store, workflow, edge and message relay call they make) and against every IAM policy
 * statement of every function role in the synthesized template.
 *
 * Plain data, no CDK imports.
 *
 * DynamoDB actions follow from the store methods (adapters/dynamo/store.ts, call-store.ts), which use
 * only single-item commands and queries: `GetCommand` → GetItem, `PutCommand` → PutItem,
 * `UpdateCommand` → UpdateItem, `DeleteCommand` → DeleteItem, `QueryCommand` → Query (on the table,
 * or on an index when `IndexName` is set), `BatchGetCommand` → BatchGetItem. No Scan, no batch write, no
 * transaction, no stream, no DescribeTable.
 */
import type { FunctionName } from './routes.ts';

export type DynamoAction =
  | 'dynamodb:GetItem'
  | 'dynamodb:BatchGetItem'
  | 'dynamodb:Query'
  | 'dynamodb:PutItem'
  | 'dynamodb:UpdateItem'
  | 'dynamodb:DeleteItem';

/** The table's GSIs by their key in adapters/dynamo/table-design.ts INDEXES. */
export type IndexKey = 'byUser' | 'byType';

export type StatesAction =
  | 'states:StartExecution'
  | 'states:StopExecution'
  | 'states:SendTaskSuccess'
  | 'states:SendTaskFailure';

export interface FunctionAccess {
  /** DynamoDB actions on the table, sorted. */
  readonly table: readonly DynamoAction[];
  /** GSIs it queries (`dynamodb:Query` on `<table>/index/<name>` only). */
  readonly indexes: readonly IndexKey[];
  /**
   * Step Functions actions on the call setup state machine (Start) or its executions (Stop,
   * task callbacks: task tokens are not resources, see the test).
   */
  readonly states: readonly StatesAction[];
  /** Calls the edge control API: placed in the VPC with the edge clients' security group. */
  readonly edgeControl: boolean;
  /**
   * Sends its SIP MESSAGEs (regroup notices) through the `message-relay` function instead of the edge
   * control API: it gets the relay's name (`MESSAGE_RELAY_FUNCTION`) and `lambda:InvokeFunction` on that
   * function only. For a function that must stay outside the VPC (it calls partners over the internet,
   * and the VPC has no NAT gateway: decision 0011), so cannot reach the edge itself.
   */
  readonly messageRelay: boolean;
}

const GET: DynamoAction = 'dynamodb:GetItem';
const BATCH_GET: DynamoAction = 'dynamodb:BatchGetItem';
const QUERY: DynamoAction = 'dynamodb:Query';
const PUT: DynamoAction = 'dynamodb:PutItem';
const UPDATE: DynamoAction = 'dynamodb:UpdateItem';
const DELETE: DynamoAction = 'dynamodb:DeleteItem';
const TASK_CALLBACKS: readonly StatesAction[] = ['states:SendTaskFailure', 'states:SendTaskSuccess'];

const access = (
  table: readonly DynamoAction[],
  indexes: readonly IndexKey[] = [],
  states: readonly StatesAction[] = [],
  edgeControl = false,
  messageRelay = false,
): FunctionAccess => ({
  table: [...table].sort(),
  indexes: [...indexes].sort(),
  states,
  edgeControl,
  messageRelay,
});

/**
 * Per function, what it calls (the store methods in the comments; see the module doc for the mapping).
 */
export const FUNCTION_ACCESS: Readonly<Record<FunctionName, FunctionAccess>> = {
  // ping
  health: access([GET]),
  // getUser
  auth: access([GET]),
  // listUsers (byType), groupsOfUser (byUser), getUser, createUser, replaceUser, deleteUser
  users: access([GET, QUERY, PUT, DELETE], ['byUser', 'byType']),
  // listGroups, listMarkers (byType), listMembers, getGroup, getMarker, getUser, createGroup,
  // replaceGroup, putMember, deleteMember, deleteGroup
  groups: access([GET, QUERY, PUT, DELETE], ['byType']),
  // listAgreements, listTemporaryGroups (byType), getAgreement, createAgreement, replaceAgreement,
  // deleteAgreement
  agreements: access([GET, QUERY, PUT, DELETE], ['byType']),
  // listTemporaryGroups, listAgreements (byType), getTemporaryGroup, getGroup, getMarker,
  // reserveTemporaryGroup, transitionTemporaryGroup, claimMarker, activateMarker, releaseMarker,
  // deleteTemporaryGroup; notifyRegroup: affiliationsToGroup, registrationsOf (BatchGetItem). It sends
  // the regroup notices through the message-relay function: it calls partners over the internet, so it
  // stays outside the VPC and cannot reach the edge control API itself.
  regroups: access([GET, BATCH_GET, QUERY, PUT, UPDATE, DELETE], ['byType'], [], false, true),
  // markersOf (byUser), getGroup, getMarker, getUser, getUsers (BatchGetItem), listMembers,
  // affiliationsToGroup, registrationsOf (BatchGetItem), putCallPass, claimMarker, activateMarker, releaseMarker;
  // partner-auth: getAgreement, recordNonce; notifyRegroup (edge)
  'partner-api': access([GET, BATCH_GET, QUERY, PUT, UPDATE, DELETE], ['byUser'], [], true),
  // getUser, listRegistrations, putRegistration, deleteRegistration (one item per user: GetItem, then a
  // conditional PutItem, or DeleteItem when no binding is left)
  registration: access([GET, PUT, DELETE]),
  // groupsOfUser, affiliationsOfUser (byUser), putAffiliation, deleteAffiliation
  affiliation: access([QUERY, PUT, DELETE], ['byUser']),
  // groupsOfUser, affiliationsOfUser (byUser), getUser, getGroup, getMarker, getTemporaryGroup,
  // getAgreement, getCallPass, listRegistrations, recordNonce, recordCallNonces (UpdateItem),
  // claimSipCallId, createCall, claimDecision, setStatus, listLegs; starts and stops workflow
  // executions; cancels and ends legs at the edge
  'call-routing': access(
    [GET, QUERY, PUT, UPDATE],
    ['byUser'],
    ['states:StartExecution', 'states:StopExecution'],
    true,
  ),
  // recordResponses (an update; a read when a leg is unknown), claimDecision; completes the
  // AwaitResponses wait (success only)
  'member-response': access([GET, UPDATE], [], ['states:SendTaskSuccess']),
  // listMembers, affiliationsToGroup, getTemporaryGroup, getGroup, getMarker, getAgreement,
  // registrationsOf (BatchGetItem), addLegs, setTaskToken, recordResponse, getCall, listLegs, claimDecision,
  // setStatus; completes the wait itself (success only) when unsent legs decide the call; originates
  // legs and answers held INVITEs at the edge
  'call-setup-tasks': access([GET, BATCH_GET, QUERY, PUT, UPDATE], [], ['states:SendTaskSuccess'], true),
  // getAgreement; completes the InterrogatePartner task
  'partner-interrogator': access([GET], [], TASK_CALLBACKS),
  // No table; the edge's sendMessages, for the batches regroups (outside the VPC) invokes it with
  'message-relay': access([], [], [], true),
};

/**
 * Functions whose code can call the edge control API but that the stack does not wire to it, and why.
 * Their calls to the edge are skipped (no `EDGE_CONTROL_URL`: functions/shared/deps.ts). None: regroups,
 * which cannot be in the VPC, sends its regroup notices through the message-relay function
 * (`messageRelay`) since decision 0011's open point was closed. A function listed here is a known,
 * documented gap; test/cdk/least-privilege.test.ts accepts no other.
 */
export const EDGE_CONTROL_NOT_WIRED: Readonly<Partial<Record<FunctionName, string>>> = {};

/** The functions that call the edge control API, in FUNCTIONS order of their names. */
export const EDGE_CONTROL_CLIENTS: readonly FunctionName[] = (
  Object.entries(FUNCTION_ACCESS) as [FunctionName, FunctionAccess][]
)
  .filter(([, a]) => a.edgeControl)
  .map(([name]) => name);

/** The functions that send their SIP MESSAGEs through the message-relay function. */
export const MESSAGE_RELAY_CLIENTS: readonly FunctionName[] = (
  Object.entries(FUNCTION_ACCESS) as [FunctionName, FunctionAccess][]
)
  .filter(([, a]) => a.messageRelay)
  .map(([name]) => name);
