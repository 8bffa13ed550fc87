var app = EmbeddedGateway.GatewayHost.Build(args);
app.Run();
