//go:build !unix

package main

// lockDataDir does nothing where flock(2) is missing: the store's own lock
// still refuses a second node, in its own words.
func lockDataDir(string) (release func(), err error) { return func() {}, nil }
