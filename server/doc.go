// Package server assembles the single-process Porthouse (`porthouse run`):
// the store, the in-process sequence, one puddle with its router, the JSON
// API and the health endpoints, all on one listening port.
//
// Server owns its goroutines: Start serves in the background, Shutdown stops
// accepting, closes sockets with 1001, waits, then closes the store. It is
// safe to call Shutdown twice.
package server
