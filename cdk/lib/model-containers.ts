/**
 * Serving containers for the SageMaker model: the AWS Deep Learning Container image per container
 * family (TGI, LMI with vLLM), the environment each one reads, and the request format the SageMaker
 * adapter must speak to it (backend/core/formats.ts).
 */
import type { ModelContainerKind } from './environments';

/** An image in an ECR repository, resolved per region at deploy time. */
export interface EcrImageRef {
  /** Account that owns the repository (763104351884 hosts the AWS Deep Learning Containers). */
  readonly account: string;
  /** Repository name, e.g. `huggingface-pytorch-tgi-inference`. */
  readonly repository: string;
  readonly tag: string;
}

/** Adapter container formats this infrastructure can configure (a subset of backend CONTAINER_FORMATS). */
export type AdapterFormat = 'tgi' | 'openai-chat';

/** A serving container: its image, environment and adapter format. */
export interface ModelContainer {
  readonly kind: ModelContainerKind;
  readonly image: EcrImageRef;
  readonly format: AdapterFormat;
}

const DLC_ACCOUNT = '763104351884';

/** Pinned default images; override per deployment through `SagemakerEndpointProps.container`. */
export const DEFAULT_CONTAINERS: Readonly<Record<ModelContainerKind, ModelContainer>> = {
  tgi: {
    kind: 'tgi',
    image: { account: DLC_ACCOUNT, repository: 'huggingface-pytorch-tgi-inference', tag: '2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04' },
    format: 'tgi',
  },
  lmi: {
    kind: 'lmi',
    image: { account: DLC_ACCOUNT, repository: 'djl-inference', tag: '0.35.0-lmi17.0.0-cu128' },
    format: 'openai-chat',
  },
};

/** Where the model weights come from. */
export interface ModelSource {
  /** Hugging Face hub id, downloaded by the container at start-up. */
  readonly hfModelId?: string;
  /** S3 URL of the weights (tarball, or prefix ending in `/`); takes precedence over the hub id. */
  readonly modelDataUrl?: string;
}

/** Path SageMaker unpacks model data to inside the container. */
const MODEL_DIR = '/opt/ml/model';

/** The container environment for `kind` serving `source` on `gpus` GPUs. */
export function containerEnvironment(kind: ModelContainerKind, source: ModelSource, gpus: number): Record<string, string> {
  const modelId = source.modelDataUrl ? MODEL_DIR : source.hfModelId;
  if (!modelId) throw new Error('a SageMaker model needs hfModelId or modelDataUrl');
  switch (kind) {
    case 'tgi':
      return { HF_MODEL_ID: modelId, SM_NUM_GPUS: String(gpus), MAX_INPUT_TOKENS: '8192', MAX_TOTAL_TOKENS: '12288' };
    case 'lmi':
      // LMI 0.35+ runs vLLM in async mode by default and accepts OpenAI chat/completions bodies.
      return { HF_MODEL_ID: modelId, OPTION_TENSOR_PARALLEL_DEGREE: String(gpus), OPTION_MAX_MODEL_LEN: '12288' };
  }
}

/** Bucket and key (or prefix) of an `s3://` URL; throws on anything else. */
export function parseS3Url(url: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/.exec(url);
  if (!match?.[1] || !match[2]) throw new Error(`not an s3:// URL with a key: ${url}`);
  return { bucket: match[1], key: match[2] };
}
