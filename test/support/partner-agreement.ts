/** Test support: our agreement with the primary system, as a partner's store holds it (a fixed test key). */
import type { PartnerAgreement } from '#core/model.ts';

export const PRIMARY_AGREEMENT: PartnerAgreement = {
  partner: 'primary.example',
  apiUrl: 'http://127.0.0.1:1',
  sipUri: 'sip:127.0.0.1:5060',
  keyId: 'k1',
  key: 'zneKPcU1uWCLtxoib_vIR_FXCb-Mi7taHz73uENidI0',
  sharedUserFields: [],
  regroupableGroups: '*',
};
