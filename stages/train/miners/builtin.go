package miners

// builtinMiners lists dmlrun's miners, one file each. A new miner is a new file with its
// Spec (see distance.go) plus its name here.
func builtinMiners() []Entry {
	return []Entry{distanceMiner, rhoDistanceMiner, semihardMiner, softhardMiner, randomMiner, npairMiner}
}
