/**
 * Maps the environments config's retention (days) to CloudWatch Logs' RetentionDays.
 */
import * as logs from 'aws-cdk-lib/aws-logs';
import type { LogRetentionDays } from '../environments';

const RETENTION: Record<LogRetentionDays, logs.RetentionDays> = {
  1: logs.RetentionDays.ONE_DAY,
  3: logs.RetentionDays.THREE_DAYS,
  5: logs.RetentionDays.FIVE_DAYS,
  7: logs.RetentionDays.ONE_WEEK,
  14: logs.RetentionDays.TWO_WEEKS,
  30: logs.RetentionDays.ONE_MONTH,
  60: logs.RetentionDays.TWO_MONTHS,
  90: logs.RetentionDays.THREE_MONTHS,
  180: logs.RetentionDays.SIX_MONTHS,
  365: logs.RetentionDays.ONE_YEAR,
  731: logs.RetentionDays.TWO_YEARS,
};

/** The RetentionDays value for `days`. */
export function logRetention(days: LogRetentionDays): logs.RetentionDays {
  return RETENTION[days];
}
