# Problems that a stage's own check finds (stage.Def.Decode: cross-field rules, names looked
# up in the stage's tables) are reported where the offending value was written.
locals {
  long = { epochs = 2, warmup = 5 }
}

dataset "d" {
  kind   = "synthetic"
  subset = 1 # ERROR: Subset too small
}

train "fields" {
  dataset  = dataset.d
  seeds    = [0, -1, 2] # ERROR: Negative seed
  schedule = { epochs = 3, warmup = 3, tau = [5, 5] } # ERROR: Warmup too long # ERROR: Milestones out of order
  loss "nir" {
    w_align = 2 # ERROR: Alignment weight too large
  }
}

train "from_local" {
  dataset  = dataset.d
  seeds    = [0, 1, 2]
  schedule = local.long # ERROR: Warmup too long
  loss "nir" {}
}

train "swept" {
  dataset = dataset.d
  matrix  = { "loss.w_align" = [0.5, 3] } # ERROR: Alignment weight too large
  loss "nir" {}
}

# Its reference fails, so it gets no nodes, but its values are still checked.
train "orphan" {
  dataset = dataset.nope # ERROR: Reference to undeclared block
  loss "nir" { w_align = 1.5 } # ERROR: Alignment weight too large
}

evaluate "test" {
  models  = [train.fields, train.from_local]
  metrics = ["e_recall@1", "recal@1"] # ERROR: Unknown metric
}
