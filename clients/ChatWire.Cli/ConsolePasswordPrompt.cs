using System.Text;

namespace ChatWire.Cli;

// Reads a password from the terminal with echo off (Console.ReadKey intercepting every key).
internal static class ConsolePasswordPrompt
{
    private static int s_active;

    // While a prompt waits in ReadKey, Ctrl+C must end the process: the usual cancellation cannot wake ReadKey.
    public static bool IsActive => Volatile.Read(ref s_active) != 0;

    public static string? Read(string prompt)
    {
        Volatile.Write(ref s_active, 1);
        try
        {
            Console.Error.Write(prompt);
            var password = new StringBuilder();
            while (true)
            {
                var key = Console.ReadKey(intercept: true);
                if (key.Key == ConsoleKey.Enter)
                {
                    break;
                }

                if (key.Key == ConsoleKey.Backspace)
                {
                    if (password.Length > 0)
                    {
                        password.Length--;
                    }

                    continue;
                }

                if (!char.IsControl(key.KeyChar))
                {
                    password.Append(key.KeyChar);
                }
            }

            Console.Error.WriteLine();
            return password.ToString();
        }
        finally
        {
            Volatile.Write(ref s_active, 0);
        }
    }
}
