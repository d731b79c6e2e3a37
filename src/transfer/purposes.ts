/**
 * The purposes of use of a transfer's calls between gateways. The sender authorizes the receiver's pull by the
 * resource-level Consents it records (transfer/consents.ts, auth/consents.ts), not by authorization credentials.
 */
export const PURPOSE = {
  /** The receiver pulls from the sender's FHIR API. */
  pull: 'eOverdracht-sender',
  /** The sender notifies the receiver's notification endpoint. */
  notify: 'eOverdracht-receiver',
} as const;
