// Package fastrpc serves the platform's Fast-RPC calls (DESIGN §15): call
// envelopes added to a Redis stream, read through one consumer group that
// every host shares, each answered by a reply pushed to the list the
// envelope names.
//
// A Worker reads entries as it has room for them (a full worker stops
// reading), runs each through a Handler, and acknowledges an entry only
// once its reply is written. Replies are written exactly once per entry:
// with the reply, a record of the corr_id is kept (the reply itself when
// the SDK's should_cache_reply says so), in the reply list's hash slot, by
// one script, so a redelivered entry is acknowledged without a second
// reply, and a corr_id sent again is answered from the record without
// running twice. Entries a dead consumer left pending are claimed after an
// idle bound; one delivered too often is answered as poison and dropped.
package fastrpc
