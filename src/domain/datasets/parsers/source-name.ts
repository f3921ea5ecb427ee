/** The file name of a user-supplied path (either slash), for matching by name. */
export const baseName = (path: string): string => path.split(/[\\/]/).pop() ?? path;
