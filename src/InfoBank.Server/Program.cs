using InfoBank.Server;

var builder = WebApplication.CreateBuilder(args);
builder.AddInfoBank();

var app = builder.Build();
app.UseInfoBank();
await app.PrepareAsync();
await app.RunAsync();

/// <summary>Visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
