/**
 * Side-effect import that installs the `awslambda` global (unless present), for tests and
 * scripts that import streaming handlers directly: `import '../tools/lambda-host/register';`
 * must come before the handler module's import.
 */
import { installAwsLambdaGlobal } from './runtime-shim';

installAwsLambdaGlobal();
