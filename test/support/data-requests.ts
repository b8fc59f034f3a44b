// The data request the cross-service tests file to see a refusal: the police asking for a plate's
// movements, an individual-level request the api always refuses with its reasons, audits and
// counts (P6, docs/privacy.md).

/** The request's JSON body, over the time from `fromMs` until now. */
export function plateMovementsRequest(fromMs: number, plate = 'AB 1234'): string {
  return JSON.stringify({
    subject: { type: 'plate', value: plate },
    level: 'individual',
    data: ['movements'],
    purpose: 'criminal-investigation',
    from: new Date(fromMs).toISOString(),
    to: new Date().toISOString(),
  });
}
