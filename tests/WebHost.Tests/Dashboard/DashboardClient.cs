using System.Net;
using System.Text.Json;

namespace EpollTransport.WebHost.Tests.Dashboard;

/// <summary>Reads <c>/dashboard/data</c> and picks the figures the tests compare.</summary>
public static class DashboardClient
{
    /// <summary>Gets the data, asserting a 200 JSON answer.</summary>
    /// <param name="client">A client for the host.</param>
    /// <returns>The parsed document; dispose it.</returns>
    public static async Task<JsonDocument> GetAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/dashboard/data");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync());
    }

    /// <summary>Each thread's values, by thread name then instrument name.</summary>
    /// <param name="data">The data.</param>
    /// <returns>The values.</returns>
    public static Dictionary<string, Dictionary<string, long>> Threads(JsonDocument data) =>
        data.RootElement.GetProperty("threads").EnumerateArray().ToDictionary(
            t => t.GetProperty("name").GetString()!,
            t => t.GetProperty("values").EnumerateObject().ToDictionary(v => v.Name, v => (long)v.Value.GetDouble()));

    /// <summary>Kestrel's active connections as the data reports them.</summary>
    /// <param name="data">The data.</param>
    /// <returns>The count.</returns>
    public static long ActiveConnections(JsonDocument data) =>
        data.RootElement.GetProperty("host").GetProperty("activeConnections").GetInt64();

    /// <summary>The requests counted so far (the data's <c>host.requests</c>).</summary>
    /// <param name="data">The data.</param>
    /// <returns>The count.</returns>
    public static long Requests(JsonDocument data) =>
        data.RootElement.GetProperty("host").GetProperty("requests").GetInt64();
}
