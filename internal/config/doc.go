// Package config builds Folio's one explicit Config value from environment
// variables. Every setting has a default where one is sane; a bad value stops
// start-up with an error that names the variable.
//
// The standard AWS variables (AWS_ENDPOINT_URL_S3, AWS_REGION,
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE, …) are not read here:
// the AWS SDK reads them itself.
package config
