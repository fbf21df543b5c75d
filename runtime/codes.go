package runtime

import "regexp"

// Error codes of the ActionResult, fixed by the platform contract. The SDK's
// own codes come first, then the ones this host adds for upstream, cache
// and transport failures.
const (
	CodeValidationMissingField = "VALIDATION_MISSING_FIELD"
	CodeValidationTypeError    = "VALIDATION_TYPE_ERROR"
	CodeUnknownTool            = "UNKNOWN_TOOL"
	CodeUnknownSubFunction     = "UNKNOWN_SUB_FUNCTION"
	CodePermissionDenied       = "PERMISSION_DENIED"
	CodeBackendTimeout         = "BACKEND_TIMEOUT"
	CodeBackend5xx             = "BACKEND_5XX"
	CodeRateLimited            = "RATE_LIMITED"
	CodeInternal               = "INTERNAL"
	CodeUnstructured           = "EXT_UNSTRUCTURED_ERROR"

	CodeBackend4xx             = "BACKEND_4XX"
	CodeBackendUnavailable     = "BACKEND_UNAVAILABLE"
	CodeBackendBadResponse     = "BACKEND_BAD_RESPONSE"
	CodeCacheContractViolation = "CACHE_CONTRACT_VIOLATION"
	CodeStoreConflict          = "STORE_CONFLICT"
	CodeStoreLimit             = "STORE_LIMIT"
	CodeStoreUnavailable       = "STORE_UNAVAILABLE"
	CodeConfirmationRequired   = "CONFIRMATION_REQUIRED"
	CodeConfirmationInvalid    = "CONFIRMATION_INVALID"
	CodeBadRequest             = "BAD_REQUEST"
	CodeUnauthenticated        = "UNAUTHENTICATED"
	CodePayloadTooLarge        = "PAYLOAD_TOO_LARGE"
	CodeUnavailable            = "UNAVAILABLE"
	CodeCanceled               = "CANCELED"
)

var codePattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{2,63}$`)

// ValidCode reports whether code has the shape ^[A-Z][A-Z0-9_]{2,63}$.
func ValidCode(code string) bool { return codePattern.MatchString(code) }
