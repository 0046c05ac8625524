package node

// SetReopenHook makes the node built from c call h before it reopens each
// stored database at start, on the goroutine that reopens them: tests hold
// a reopen there to see what the API answers meanwhile.
func SetReopenHook(c *Config, h func(address string)) { c.reopenHook = h }
