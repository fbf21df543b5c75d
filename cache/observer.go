package cache

// Observer receives the cache's events, for metrics. Calls are made on the
// request path: implementations must be fast and must not block.
type Observer interface {
	// Lookup counts one read of a model: a hit or a miss.
	Lookup(appID, model string, hit bool)
	// BackendError counts one failed backend operation ("get", "set",
	// "delete" or "ping").
	BackendError(op string)
	// Degraded reports that the backend started failing (true) or answers again (false).
	Degraded(degraded bool)
	// Collapsed counts one GetOrFetch miss that joined another caller's fetch.
	Collapsed(appID, model string)
}

// NopObserver ignores every event. Embed it to implement only part of Observer.
type NopObserver struct{}

// Lookup implements Observer.
func (NopObserver) Lookup(string, string, bool) {}

// BackendError implements Observer.
func (NopObserver) BackendError(string) {}

// Degraded implements Observer.
func (NopObserver) Degraded(bool) {}

// Collapsed implements Observer.
func (NopObserver) Collapsed(string, string) {}

// L1Observer receives the events of the in-process layer in front of
// Redis, for metrics. Calls are made on the request path.
type L1Observer interface {
	// L1Hit counts one read the L1 answered.
	L1Hit()
	// L1Invalidation counts one announcement from another replica the L1 applied.
	L1Invalidation()
}

// L1Hit implements L1Observer.
func (NopObserver) L1Hit() {}

// L1Invalidation implements L1Observer.
func (NopObserver) L1Invalidation() {}
