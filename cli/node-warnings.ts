/**
 * The AWS SDK warns on every run that its releases after January 2027 need Node 22. The Lambda
 * functions run Node 22; on a developer's Node 20 the warning says nothing actionable at each
 * command, so the CLI turns it off with the SDK's own switch. Other warnings still print.
 */
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
