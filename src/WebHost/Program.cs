using Microsoft.AspNetCore.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.WebHost.UseEpoll();
var app = builder.Build();
app.MapGet("/plaintext", () => "Hello, World!");
app.Run();
