/** Placeholder until the shell lands. */
export function App() {
  return <main><h1>Herald</h1></main>;
}
