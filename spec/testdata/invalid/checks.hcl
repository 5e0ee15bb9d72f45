dataset "cub" { kind = "cub200" }

train "a" {
  dataset = dataset.cub
  loss "oproxy" {}
}

check "c1" { # ERROR: Missing required argument
  baseline  = train.a
  candidate = train.a
}

check "c2" {
  baseline   = train.b # ERROR: Reference to undeclared block
  candidate  = train.a
  tolerances = { "e_recall@1" = -0.1 } # ERROR: Invalid tolerance
}

check "c2" { # ERROR: Duplicate check block
  baseline   = train.a
  candidate  = train.a
  tolerances = {}
}
