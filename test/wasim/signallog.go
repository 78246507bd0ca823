package wasim

import signalLog "go.mau.fi/libsignal/logger"

// libsignal fills its logger lazily, without a lock, on first use, so simulators (and
// clients) signing at once in one process race on it; its default logger also writes to
// stdout. Unless a logger is set already (the gateway's whatsmeow adapter sets one), a
// silent one is set here, before any goroutine exists.
func init() {
	if signalLog.Logger == nil {
		var l signalLog.Loggable = silentSignalLog{}
		signalLog.Setup(&l)
	}
}

type silentSignalLog struct{}

func (silentSignalLog) Debug(string, string)   {}
func (silentSignalLog) Info(string, string)    {}
func (silentSignalLog) Warning(string, string) {}
func (silentSignalLog) Error(string, string)   {}
func (silentSignalLog) Configure(string)       {}
