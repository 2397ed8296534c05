/** A quota gate that notes where each of its decisions came from (tests of the limits). */
import { type AdmitInput, type Admission, QuotaGate } from '../services/limits/gate';

export class RecordingGate extends QuotaGate {
  readonly sources: Array<Admission['source'] | 'denied'> = [];
  override admit(input: AdmitInput): Promise<Admission> {
    const admission = super.admit(input);
    admission.then(
      (a) => this.sources.push(a.source),
      () => this.sources.push('denied'),
    );
    return admission;
  }
}
