/**
 * How an adapter is bundled for Lambda: one definition for CDK's NodejsFunction (its local esbuild,
 * cdk/lib/constructs/adapter-function.ts) and for {@link bundleAdapter}, which the bundle figures
 * (measure-bundles.ts) and the test of the bundles as deployed (backend/handlers/bundles.test.ts) use.
 *
 * `mainFields` puts a package's ES module build first: esbuild can then drop what the adapter never
 * imports (the AWS SDK's and OpenTelemetry's CommonJS builds cannot be tree-shaken, and the whole of
 * `@opentelemetry/semantic-conventions` came along for a few attribute names): the SageMaker adapter
 * with the SDK in it is 0.68 MB instead of 1.06 MB.
 */
import { build, type Metafile } from 'esbuild';

/** esbuild settings beyond NodejsFunction's defaults (CommonJS, platform node). */
export const ADAPTER_BUNDLING = {
  target: 'node22',
  minify: true,
  mainFields: ['module', 'main'],
} as const;

/** Bundles one adapter entry into `outfile` (CommonJS), as NodejsFunction does; `external` stays out (e.g. `@aws-sdk/*`). */
export async function bundleAdapter(entry: string, outfile: string, external: readonly string[] = []): Promise<Metafile> {
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: ADAPTER_BUNDLING.target,
    minify: ADAPTER_BUNDLING.minify,
    mainFields: [...ADAPTER_BUNDLING.mainFields],
    external: [...external],
    metafile: true,
    logLevel: 'error',
  });
  return result.metafile;
}
