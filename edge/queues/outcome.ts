/** What handling one queue message came to: ack it, retry it later, or move it to the dead letters. */
export type Outcome = { readonly kind: 'done' } | { readonly kind: 'retry'; readonly reason: string } | { readonly kind: 'dead'; readonly reason: string };
