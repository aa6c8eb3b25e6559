package events

// Deliver hands evs to the subscribers as the hub does after reading them.
func (h *Hub) Deliver(evs []Event) { h.deliver(evs) }
