namespace ChatWire.Protocol.Tests.Support;

internal static class RepositoryRoot
{
    /// <summary>The directory holding ChatWire.sln, found by walking up from the test binaries.</summary>
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "ChatWire.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No ChatWire.sln above {AppContext.BaseDirectory}.");
    }
}
