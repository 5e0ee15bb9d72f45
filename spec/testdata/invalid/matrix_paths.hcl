# matrix keys that are paths into object arguments and variant blocks: unknown names get the
# nearest valid path, at the key.
dataset "d" { kind = "synthetic" }

train "a" {
  dataset  = dataset.d
  schedule = { epochs = 3, lr = 1e-3 } # ERROR: Conflicting definitions
  matrix = {
    "schedule.lr"    = [1e-3, 3e-3]
    "schedule.lrr"   = [1]     # ERROR: Unsupported matrix key
    "scheduel.gamma" = [0.1]   # ERROR: Unsupported matrix key
    "loss.w_algn"    = [0.1]   # ERROR: Unsupported matrix key
    "loss.kind"      = ["nir"] # ERROR: Invalid matrix key
    "embed_dim.x"    = [1]     # ERROR: Invalid matrix key
    "schedule..tau"  = [[1]]   # ERROR: Invalid matrix key
    loss             = [1]     # ERROR: Invalid matrix key
    schedule.warmup  = [1]     # ERROR: Ambiguous key
  }
  loss "nir" {}
}

train "b" {
  dataset = dataset.d
  matrix = {
    schedule      = [{ epochs = 3 }]
    "schedule.lr" = [1e-3] # ERROR: Conflicting matrix keys
  }
  loss "nir" { w_align = 0.1 }
}

train "c" {
  dataset = dataset.d
  matrix  = { "loss.w_align" = [0.1, 0.2] }
  loss "nir" { w_align = 0.1 } # ERROR: Conflicting definitions
}
