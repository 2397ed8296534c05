/**
 * The price table: per model in the route table (`models.<m>.price`), in the table's `currency`
 * (default USD). Rates are currency units per 1M input tokens, per 1M output tokens and per
 * request; a cache hit (or a coalesced follower) is priced at its own `cached` rates, 0 unless set.
 * Because a rate per 1M tokens is exactly micro-units per token, a cost in micro-units is
 * `tokens × rate` — rounded once, per record, to an integer.
 */
import * as z from 'zod';

const rate = z.number().min(0).max(1_000_000).default(0);

const RatesSchema = z.object({ inputPer1M: rate, outputPer1M: rate, perRequest: rate }).strict();

export const PriceSchema = z
  .object({
    inputPer1M: rate,
    outputPer1M: rate,
    perRequest: rate,
    /** Rates of an answer served from the cache (a hit or a coalesced follower): its client-visible tokens at these rates. */
    cached: RatesSchema.default({ inputPer1M: 0, outputPer1M: 0, perRequest: 0 }),
  })
  .strict();

export type Price = z.infer<typeof PriceSchema>;
type Rates = z.infer<typeof RatesSchema>;

export const CurrencySchema = z
  .string()
  .regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as USD')
  .default('USD');

/** What a request is billed for. */
export interface Billable {
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Answered from the cache: the cached rates apply. */
  readonly cached: boolean;
}

/** The cost in micro-units of the currency (an integer); no price: 0. */
export function costMicros(price: Price | undefined, billable: Billable): number {
  if (!price) return 0;
  const rates: Rates = billable.cached ? price.cached : price;
  return Math.round(billable.promptTokens * rates.inputPer1M + billable.completionTokens * rates.outputPer1M + rates.perRequest * 1_000_000);
}
