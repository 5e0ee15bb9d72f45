dataset "cub" { kind = "cub200" }

train "a" {
  dataset   = dataset.cub
  embed_dim = 128 # ERROR: Conflicting definitions
  matrix = {
    embed_dim = [128, 512]
    embed_dimm = [1] # ERROR: Unsupported matrix key
    dataset   = [1]  # ERROR: Invalid matrix key
    lr        = []   # ERROR: Empty matrix axis
    arch      = ["resnet50_frozen_normalize", "resnet50_frozen_normalize"] # ERROR: Duplicate matrix value
  }
  loss "oproxy" {}
}

train "b" {
  dataset = dataset.cub
  seeds   = [0, 1, 0] # ERROR: Duplicate seed
  loss "oproxy" {}
}

train "c" {
  dataset = dataset.cub
  seeds   = [0, 1.5] # ERROR: Invalid value
  loss "oproxy" {}
}

evaluate "test" { # ERROR: Expansion not allowed here
  models = [train.a]
  seeds  = [0, 1]
}

train "d" {
  dataset = dataset.cub
  seed    = 3 # ERROR: Conflicting definitions
  seeds   = [0, 1]
  loss "oproxy" {}
}

train "e" {
  dataset = dataset.cub
  matrix  = { seed = [0, 1] }
  seeds   = [0, 1] # ERROR: Conflicting definitions
  loss "oproxy" {}
}
