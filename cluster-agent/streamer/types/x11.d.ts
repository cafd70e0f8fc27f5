/** The `x11` package ships no types; x11-desktop.ts wraps every call it makes. */
declare module 'x11' {
  const x11: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  export default x11;
}
