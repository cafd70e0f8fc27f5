declare module 'des.js' {
  interface Cipher {
    update(data: number[]): number[];
    final(): number[];
  }
  const desjs: { DES: { create(opts: { type: 'encrypt' | 'decrypt'; key: number[]; padding?: boolean }): Cipher } };
  export default desjs;
}
