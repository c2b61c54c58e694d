/**
 * The tasks of the call setup workflow that run in the one `call-setup-tasks` function, by the name
 * the state machine passes in its payload (`{ task, input }`, plus `taskToken` for InviteMembers).
 * Plain data, shared by the state machine definition (lib/call-setup-workflow.ts) and the handler.
 */
export const CALL_SETUP_TASKS = {
  resolveTemporaryGroup: 'ResolveTemporaryGroup',
  applyCommencementPolicy: 'ApplyCommencementPolicy',
  inviteMembers: 'InviteMembers',
  completeCallSetup: 'CompleteCallSetup',
} as const;

export type CallSetupTaskName = (typeof CALL_SETUP_TASKS)[keyof typeof CALL_SETUP_TASKS];
