package federation

import "time"

// SetCollectionFetchBudget shortens the time a follower spends fetching a
// collection's missing items; the returned func restores it.
func SetCollectionFetchBudget(d time.Duration) func() {
	old := collectionFetchBudget
	collectionFetchBudget = d
	return func() { collectionFetchBudget = old }
}
