package criteria

// builtinLosses lists dmlrun's losses, one file each. A new loss is a new file with its Spec
// (see oproxy.go) plus its name here. The SubCriterion losses appear in this order in
// s2sd's source and target enums.
func builtinLosses() []Loss {
	return []Loss{multiSimilarityLoss, marginLoss, tripletLoss, contrastiveLoss, softmaxLoss, arcFaceLoss,
		oproxyLoss, npairLoss, nirLoss, s2sdLoss}
}
