# merge walks its arguments, and every call counts them in the evaluation budget.
locals {
  big = { for i in range(1000) : "k${i}" => i }
  all = [for i in range(1000) : merge(local.big, { k0 = i })] # ERROR: Evaluation budget exceeded
}
