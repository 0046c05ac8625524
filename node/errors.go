package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/plugins"
	"github.com/latticedb/lattice/query"
	"github.com/latticedb/lattice/validation"
)

// Sentinel errors of the node package.
var (
	// ErrTokenRequired is returned by Serve for a listener that is not on
	// loopback when the node has no API token.
	ErrTokenRequired = errors.New("node: a non-loopback API address requires an API token")
	// ErrBadConfig is returned by Config.Validate.
	ErrBadConfig = errors.New("node: invalid configuration")
	// ErrBadLink is returned by ParseInvite for a link that is not an invite.
	ErrBadLink = errors.New("node: malformed invite link")
	// ErrClosed is returned by Serve after Close.
	ErrClosed = errors.New("node: closed")
)

// apiError is an error with its HTTP status and API code.
type apiError struct {
	status int
	code   string
	msg    string
	// retryAfter, when positive, is sent as Retry-After (seconds).
	retryAfter int
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// classify maps an error to its status and code.
func classify(err error) *apiError {
	var ae *apiError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &mbe):
		return errorf(http.StatusRequestEntityTooLarge, "too_large", "request body larger than %d bytes", mbe.Limit)
	case errors.Is(err, accesscontrol.ErrUnauthorized), errors.Is(err, engine.ErrNotReader):
		return errorf(http.StatusForbidden, "forbidden", "%v", err)
	case errors.Is(err, engine.ErrDuplicateKey):
		return errorf(http.StatusConflict, "duplicate_key", "%v", err)
	case errors.Is(err, engine.ErrNoDatabase):
		return errorf(http.StatusNotFound, "not_found", "%v", err)
	case errors.Is(err, engine.ErrDocumentTooLarge):
		return errorf(http.StatusRequestEntityTooLarge, "too_large", "%v", err)
	case errors.Is(err, engine.ErrBadAddress):
		return errorf(http.StatusBadRequest, "bad_address", "%v", err)
	case errors.Is(err, query.ErrLimit), errors.Is(err, engine.ErrWriteTooLarge):
		return errorf(http.StatusBadRequest, "limit_exceeded", "%v", err)
	case errors.Is(err, query.ErrUnknownOperator):
		return errorf(http.StatusBadRequest, "unknown_operator", "%v", err)
	case errors.Is(err, query.ErrInvalidJSON):
		return errorf(http.StatusBadRequest, "bad_json", "%v", err)
	case errors.Is(err, engine.ErrBadDocument), errors.Is(err, query.ErrInvalidDocument),
		errors.Is(err, query.ErrInvalidValue):
		return errorf(http.StatusBadRequest, "bad_document", "%v", err)
	case errors.Is(err, query.ErrBadOperand), errors.Is(err, query.ErrBadPath),
		errors.Is(err, query.ErrEmptyUpdate), errors.Is(err, query.ErrReplacement),
		errors.Is(err, query.ErrConflict), errors.Is(err, query.ErrImmutableID),
		errors.Is(err, query.ErrTypeMismatch), errors.Is(err, query.ErrOverflow),
		errors.Is(err, query.ErrBadProjection), errors.Is(err, query.ErrBadOption):
		return errorf(http.StatusBadRequest, "bad_operand", "%v", err)
	case errors.Is(err, engine.ErrBadName), errors.Is(err, engine.ErrBadManifest),
		errors.Is(err, accesscontrol.ErrBadConfig), errors.Is(err, ErrBadLink),
		errors.Is(err, plugins.ErrUnknownPlugin), errors.Is(err, validation.ErrBadSchema),
		errors.Is(err, validation.ErrBadEntry):
		return errorf(http.StatusBadRequest, "bad_request", "%v", err)
	case errors.Is(err, engine.ErrArchive):
		return errorf(http.StatusConflict, "archive", "%v", err)
	case errors.Is(err, context.DeadlineExceeded):
		return errorf(http.StatusGatewayTimeout, "timeout", "%v", err)
	case errors.Is(err, engine.ErrClosed), errors.Is(err, ErrClosed):
		return errorf(http.StatusServiceUnavailable, "unavailable", "%v", err)
	default:
		return errorf(http.StatusInternalServerError, "internal", "%v", err)
	}
}

// writeError writes err as a JSON error response.
func writeError(w http.ResponseWriter, err error) {
	ae := classify(err)
	var body errorBody
	body.Error.Code, body.Error.Message = ae.code, ae.msg
	if ae.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
	}
	writeJSON(w, ae.status, body)
}

// writeJSON writes v with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"cannot encode response"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
