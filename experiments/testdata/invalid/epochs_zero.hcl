# epochs = 0 stores the untrained network (#13), so a warmup has no epochs to freeze
dataset "d" {
  kind = "emoji"
  root = "data/emoji"
  base = 36
  crop = 32
}

train "t" {
  dataset        = dataset.d
  arch           = "smallcnn_normalize"
  not_pretrained = true
  embed_dim      = 32
  loss "oproxy" {}
  schedule = { epochs = 0, batch_size = 60, lr = 1e-3, samples_per_class = 2, warmup = 1 } # ERROR: Warmup without epochs | schedule.warmup = 1 with schedule.epochs = 0
}

embed "e" {
  models  = train.t
  dataset = dataset.d
}

evaluate "v" {
  from    = embed.e
  metrics = ["e_recall@1", "nmi"]
}

report "r" {
  from = evaluate.v
}
