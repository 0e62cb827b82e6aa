-- GET /: the liveness answer the seed gave.
return {
  method = "GET", path = "/",
  summary = "Liveness: the text Hello, World!",
  handler = function() return "Hello, World!" end,
}
