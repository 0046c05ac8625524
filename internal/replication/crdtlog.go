package replication

import (
	"fmt"

	"github.com/hashicorp/go-hclog"
	logging "github.com/ipfs/go-log/v2"
)

// CRDTLogger lets go-ds-crdt log through an injected hclog logger: pass it
// as go-ds-crdt's Options.Logger. Its Fatal and Panic log at error level and
// return, so no go-ds-crdt log call can end the process.
func CRDTLogger(l hclog.Logger) logging.StandardLogger { return crdtLogger{l} }

type crdtLogger struct{ l hclog.Logger }

// go-ds-crdt logs at debug level on every commit: format only when the
// logger would print it.
func (a crdtLogger) Debug(args ...any) {
	if a.l.IsDebug() {
		a.l.Debug(fmt.Sprint(args...))
	}
}
func (a crdtLogger) Debugf(format string, args ...any) {
	if a.l.IsDebug() {
		a.l.Debug(fmt.Sprintf(format, args...))
	}
}
func (a crdtLogger) Error(args ...any)                 { a.l.Error(fmt.Sprint(args...)) }
func (a crdtLogger) Errorf(format string, args ...any) { a.l.Error(fmt.Sprintf(format, args...)) }
func (a crdtLogger) Fatal(args ...any)                 { a.l.Error(fmt.Sprint(args...)) }
func (a crdtLogger) Fatalf(format string, args ...any) { a.l.Error(fmt.Sprintf(format, args...)) }
func (a crdtLogger) Info(args ...any) {
	if a.l.IsInfo() {
		a.l.Info(fmt.Sprint(args...))
	}
}
func (a crdtLogger) Infof(format string, args ...any) {
	if a.l.IsInfo() {
		a.l.Info(fmt.Sprintf(format, args...))
	}
}
func (a crdtLogger) Panic(args ...any)                 { a.l.Error(fmt.Sprint(args...)) }
func (a crdtLogger) Panicf(format string, args ...any) { a.l.Error(fmt.Sprintf(format, args...)) }
func (a crdtLogger) Warn(args ...any)                  { a.l.Warn(fmt.Sprint(args...)) }
func (a crdtLogger) Warnf(format string, args ...any)  { a.l.Warn(fmt.Sprintf(format, args...)) }

var _ logging.StandardLogger = crdtLogger{}
