# Unknown enum values and variant kinds suggest the nearest name, or the name that another
# spelling stands for (stage.Param.Aliases).
dataset "d" { kind = "synthetic" }

train "a" {
  dataset = dataset.d
  arch    = "r50" # ERROR: Invalid value
  loss "proxyanchor" {} # ERROR: Unknown loss kind
}

train "b" {
  dataset = dataset.d
  arch    = "resnet50_frozen_normalise" # ERROR: Invalid value
  loss "NIR" {} # ERROR: Unknown loss kind
}
