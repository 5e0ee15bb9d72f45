dataset "cub" { # ERROR: Missing required argument
  root = "/data"
}

train "nir" { # ERROR: Missing required block
  dataset = dataset.cub
}

evaluate "test" { # ERROR: Missing required argument
}
