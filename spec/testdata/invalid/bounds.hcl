# Numbers outside a parameter's bounds (stage.Param.Min, Max, Above) are reported at the
# value, in arguments, object fields, list elements and matrix values alike.
dataset "d" { kind = "synthetic" }

train "t" {
  dataset   = dataset.d
  embed_dim = 9000 # ERROR: Value out of range
  schedule = {
    lr    = 0    # ERROR: Value out of range
    gamma = 1.5  # ERROR: Value out of range
  }
  loss "nir" { w_align = -0.1 } # ERROR: Value out of range
}

train "m" {
  dataset = dataset.d
  matrix = {
    "schedule.lr"    = [1e-3, -1e-3] # ERROR: Value out of range
    "schedule.gamma" = [0]           # ERROR: Value out of range
  }
  loss "nir" {}
}
